"""Slices of a predictions table and the metrics of a classifier on each, with bootstrap intervals (fairlearn).

>>> from ftlab.slices import slice_report
>>> report = slice_report("full-adult-demo", by=["sex", "race"])  # doctest: +SKIP
>>> report.to_frame()  # doctest: +SKIP
>>> report.difference("false_positive_rate"), report.difference_ci("false_positive_rate")  # doctest: +SKIP
"""

from __future__ import annotations

from ftlab.slices.groups import (KEYWORD_GROUPS_FILE, MISSING, NO_KEYWORD, SPECIAL, confidence_groups, intersect,
                                 keyword_groups, length_groups, load_keyword_groups, metadata_groups,
                                 sensitive_features)
from ftlab.slices.report import FAIRNESS, METRICS, SliceReport, default_positive, slice_report

__all__ = ["FAIRNESS", "KEYWORD_GROUPS_FILE", "METRICS", "MISSING", "NO_KEYWORD", "SPECIAL", "SliceReport",
           "confidence_groups", "default_positive", "intersect", "keyword_groups", "length_groups",
           "load_keyword_groups", "metadata_groups", "sensitive_features", "slice_report"]

# Worst-slice discovery (keywords, metadata values and pairs, embedding clusters; Fisher + Benjamini–Hochberg).
from ftlab.slices.discovery import KINDS, Discovery, discover  # noqa: E402

__all__ += ["KINDS", "Discovery", "discover"]

# Before vs after a mitigation: accuracy and disparities of several runs, and their trade-off chart.
from ftlab.slices.comparison import (DISPARITIES, fairness_comparison, sensitive_columns,  # noqa: E402
                                     tradeoff_figure)

__all__ += ["DISPARITIES", "fairness_comparison", "sensitive_columns", "tradeoff_figure"]
