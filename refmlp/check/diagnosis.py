"""placeholder"""


def diagnose(first, sc, results, inputs):
    return None
