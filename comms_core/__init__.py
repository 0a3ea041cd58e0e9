"""comms_core: the reference science of the collective-communication lab.

Cost models (α-β), step-by-step AllReduce simulators, compression with error feedback,
gossip averaging, jitter Monte Carlo, the four tracks' scenarios, and the lab's figures.
Depends on numpy and matplotlib only; the course tooling (commslab) depends on it.
"""

from comms_core.compression import (
    COMPRESSORS,
    Compressor,
    compressed_allreduce,
    compressed_allreduce_bytes,
    compression_ratio,
    dense_allreduce_bytes,
    dense_wire_bytes,
    error_feedback_run,
    error_feedback_step,
    one_bit_compress,
    one_bit_wire_bytes,
    quantize,
    round_to_nearest,
    top_k_compress,
)
from comms_core.convergence import karimireddy_counterexample, run_data_parallel_training
from comms_core.cost_models import (
    crossover_message_size,
    double_binary_tree_allreduce_time,
    flat_ring_allreduce_time,
    hierarchical_allreduce_time,
    hierarchical_breakdown,
    optimal_accumulation_steps,
    recursive_halving_doubling_time,
    ring_allreduce_time,
    time_to_train,
    tree_allreduce_time,
)
from comms_core.fitting import LineFit, PiecewiseFit, fit_alpha_beta, fit_piecewise
from comms_core.gossip import (
    gossip_energy_joules,
    gossip_rounds,
    grid_topology,
    metropolis_weights,
    random_peer_topology,
    random_regular_topology,
    ring_allreduce_energy_joules,
    ring_topology,
    simulate_gossip,
    slem,
)
from comms_core.jitter import jitter_summary, simulate_allreduce_times
from comms_core.measurements import (
    compare_model_to_measurements,
    load_nccl_measurements,
    nccl_like_allreduce_time,
)
from comms_core.scenarios import TRACKS, scenario_for
from comms_core.simulator import (
    SCHEDULE_MAX_RANKS,
    AllReduceTrace,
    Step,
    simulate_ring_allreduce,
    simulate_tree_allreduce,
)

__all__ = [
    "COMPRESSORS",
    "SCHEDULE_MAX_RANKS",
    "TRACKS",
    "AllReduceTrace",
    "Compressor",
    "LineFit",
    "PiecewiseFit",
    "Step",
    "compare_model_to_measurements",
    "compressed_allreduce",
    "compressed_allreduce_bytes",
    "compression_ratio",
    "crossover_message_size",
    "dense_allreduce_bytes",
    "dense_wire_bytes",
    "double_binary_tree_allreduce_time",
    "error_feedback_run",
    "error_feedback_step",
    "fit_alpha_beta",
    "fit_piecewise",
    "flat_ring_allreduce_time",
    "gossip_energy_joules",
    "gossip_rounds",
    "grid_topology",
    "hierarchical_allreduce_time",
    "hierarchical_breakdown",
    "jitter_summary",
    "karimireddy_counterexample",
    "load_nccl_measurements",
    "metropolis_weights",
    "nccl_like_allreduce_time",
    "one_bit_compress",
    "one_bit_wire_bytes",
    "optimal_accumulation_steps",
    "quantize",
    "random_peer_topology",
    "random_regular_topology",
    "recursive_halving_doubling_time",
    "ring_allreduce_energy_joules",
    "ring_allreduce_time",
    "ring_topology",
    "round_to_nearest",
    "run_data_parallel_training",
    "scenario_for",
    "simulate_allreduce_times",
    "simulate_gossip",
    "simulate_ring_allreduce",
    "simulate_tree_allreduce",
    "slem",
    "time_to_train",
    "top_k_compress",
    "tree_allreduce_time",
]
