"""The formulas of the paper's theorems (biases, bounds, predicted rates), one submodule per chapter."""

__all__: list[str] = []
