"""Learners shared by the branches (the batched logistic-regression solver)."""
