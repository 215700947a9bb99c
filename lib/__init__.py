"""Code of the executable book "Sparse Coding and Autoencoders" (Rangamani et al., ISIT 2018).

Modules
-------
model
    The generative model: dictionaries, sparse codes, perturbed encoders, coherence.
autoencoder
    The tied ReLU autoencoder, its loss, exact gradient and proxy gradient.
expectation
    The closed-form expected proxy gradient and Lemma 5.2's decomposition.
estimators
    A fast exact mean-gradient estimator that exploits sparse codes (the simulations chapter).
autodiff
    Reference gradients (and Hessian-vector products) by TensorFlow automatic differentiation.
hessian
    The exact Hessian-vector product of the loss, extreme eigenvalues by Lanczos, soft directions.
theory, experiments
    The formulas of the theorems, and the experiments behind every figure and table, per chapter.
training, recovery, baselines
    Training by gradient descent, the dictionary-recovery metric, and the baseline learners.
protocols
    Training protocols from a random start: resampling and splitting units, wider layers pruned back.
mnist
    MNIST loading and the tied-weight Keras autoencoders of Sec. 1.1.
plots, scale, claims, cli
    Figure style, ``BOOK_SCALE`` sizes, the claims ledger, and ``python -m lib``.
execution
    Runs the sweeps' independent tasks: serially, or on Dask workers (``BOOK_WORKERS``, a scheduler address).
chapters
    The book's chapter registry, from which the build, the claims page and the intro's map are derived.

References
----------
"Appendix §N" in a docstring is section N of the book's appendix "The reconstructed mathematics"
(``book/90_reconstruction.md``, label ``app-math-N``): how each formula of the paper was restored.
A chapter is named by its file, ``book/04b_fixed_coherence``.
"""

__version__ = "0.1.0"
