"""Stimulus sets: definitions and loaders (parametric distortions live in humanalign.perturb)."""

from humanalign.stimuli.base import StimulusSet, StimulusSetError, load_stimulus_set

__all__ = ["StimulusSet", "StimulusSetError", "load_stimulus_set"]
