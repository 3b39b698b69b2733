"""Run long commands elsewhere: torchrun on this machine, a submitit local job, or SLURM through submitit.

Entry points for commands: :func:`add_launcher_args` and :func:`launch`. For job graphs (a study whose
comparisons wait on its pretraining runs): :class:`LaunchJob`, :class:`Resources`, :class:`JobNode` and
:func:`submit_graph`. See docs/scaling-out.md.
"""

from humanalign.launch.cli import (
           LAUNCHERS,
           add_launcher_args,
           launch,
           resources_from_args,
           strip_launcher_args,
)
from humanalign.launch.executors import (
           JobNode,
           graph_order,
           make_executor,
           sbatch_script,
           submit,
           submit_graph,
)
from humanalign.launch.job import JobFailed, LaunchJob
from humanalign.launch.nodes import Rendezvous, parse_node_list, rendezvous_from_env, torchrun_command
from humanalign.launch.resources import LaunchError, Resources, parse_sbatch_extras, parse_time_minutes
from humanalign.launch.save_request import SaveRequest

__all__ = ["LAUNCHERS", "add_launcher_args", "launch", "resources_from_args", "strip_launcher_args", "JobNode",
           "graph_order", "make_executor", "sbatch_script", "submit", "submit_graph", "JobFailed", "LaunchJob",
           "Rendezvous", "parse_node_list", "rendezvous_from_env", "torchrun_command", "LaunchError", "Resources",
           "parse_sbatch_extras", "parse_time_minutes", "SaveRequest"]
