"""Adapter for a submission that keeps each layer as one (m, n + 1) matrix [W | b].

params() returns views into the live matrices, so they follow every step.
"""
from mlp import MLP as StudentMLP


class MLP(StudentMLP):
    def params(self):
        return [(theta[:, :-1], theta[:, -1]) for theta in self.thetas]
