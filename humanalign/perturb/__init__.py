"""Input transforms applied before a model sees a stimulus.

- :mod:`humanalign.perturb.corruptions`: the 19 ImageNet-C corruptions (registry ``CORRUPTIONS``);
- :mod:`humanalign.perturb.video`: the UCF101-P / Kinetics-P video perturbations (``VIDEO_PERTURBATIONS``);
- :mod:`humanalign.perturb.distortions`: model-vs-human's 12 parametric distortions.

Metrics on the resulting responses live in :mod:`humanalign.compare`.
"""
