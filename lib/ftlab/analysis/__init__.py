"""Analysis of a run's predictions beyond the slice report: user files scored by the model, and more.

>>> from ftlab.analysis import scored_table
>>> table = scored_table("full-rt-demo", "my_reviews.csv")  # doctest: +SKIP
"""

from __future__ import annotations

from ftlab.analysis.source import scored_table

__all__ = ["scored_table"]

# Error analysis, calibration and sentence embeddings of a predictions table (torch and sklearn load on first use).
from ftlab.analysis.calibration import (calibration_by_slice, expected_calibration_error,  # noqa: E402
                                        reliability, reliability_by_slice, reliability_figure)
from ftlab.analysis.embeddings import (RunEmbeddings, embed_texts, embedding_map, map_figure,  # noqa: E402
                                       map_frame, run_embeddings)
from ftlab.analysis.errors import (class_report, confident_errors, confusion, confusion_examples,  # noqa: E402
                                   confusion_figure)
from ftlab.analysis.entities import (confusion_sentences, type_confusion, type_confusion_figure,  # noqa: E402
                                     type_report, worst_sentences)

__all__ += ["RunEmbeddings", "calibration_by_slice", "class_report", "confident_errors", "confusion",
            "confusion_examples", "confusion_figure", "embed_texts", "embedding_map", "expected_calibration_error",
            "map_figure", "map_frame", "reliability", "reliability_by_slice", "reliability_figure",
            "run_embeddings", "confusion_sentences", "type_confusion", "type_confusion_figure", "type_report",
            "worst_sentences"]
