"""Compressing a trained run: global magnitude pruning and post-training quantization (`ftlab compress`).

>>> from ftlab.compress import compress_run, quantize_dynamic_int8
>>> compress_run("full-rt-demo", prune=0.5, int8=True)  # doctest: +SKIP
"""

from ftlab.compress.common import COMPRESSION_FILE, QUANTIZED_FILE, merged_copy, plain_model
from ftlab.compress.measure import time_runs
from ftlab.compress.prune import Sparsity, make_permanent, measure_sparsity, prunable_linears, prune_global
from ftlab.compress.quantize import bitsandbytes_config, is_int8, load_int8, quantize_dynamic_int8
from ftlab.compress.run import CompressOptions, compress_run

__all__ = ["COMPRESSION_FILE", "CompressOptions", "QUANTIZED_FILE", "Sparsity", "bitsandbytes_config",
           "compress_run", "is_int8", "load_int8", "make_permanent", "measure_sparsity", "merged_copy", "plain_model",
           "prunable_linears", "prune_global", "quantize_dynamic_int8", "time_runs"]
