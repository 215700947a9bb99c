"""Code of the executable book "Sparse Coding and Autoencoders" (Rangamani et al., ISIT 2018).

Modules: :mod:`lib.model` (the generative model), :mod:`lib.autoencoder` (the tied ReLU
autoencoder, its loss and exact gradients), :mod:`lib.expectation` (closed-form expected proxy
gradient), :mod:`lib.scale` (``BOOK_SCALE``), :mod:`lib.plots` (figure style) and
:mod:`lib.claims` (the claims ledger read by the "Claims at a glance" page).
"""

__version__ = "0.1.0"
