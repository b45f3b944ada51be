"""Fine-tuning methods, one module each, registered by name (see registry.py). Importing this package
registers the built-in methods."""

from ftlab.methods import (adapters, bitfit, distill, freeze, full, ia3, lora,  # noqa: F401  (registration)
                           p_tuning, prefix_tuning, prompt_tuning)
from ftlab.methods.common import count_parameters, head_parameter_names
from ftlab.methods.registry import (MethodSpec, check_quantized_base, check_supports, get_method, list_methods,
                                    register_method)

__all__ = ["MethodSpec", "check_quantized_base", "check_supports", "count_parameters", "get_method",
           "head_parameter_names", "list_methods", "register_method"]
