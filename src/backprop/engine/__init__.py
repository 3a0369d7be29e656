"""The engine: what a network is and how backpropagation computes its gradients.

``backend`` (the array module and its tuning), ``activations`` and ``losses`` (one object per
function), ``network`` and ``workspace`` (layers, topology, flat buffers, work arrays),
``delta_rule`` (the forward pass and the delta rule), ``trace`` and ``gradcheck``. Nothing here
imports the training loop, model files or any of the faces above it.
"""
