"""Emerging-topic discovery and the curator actions on its candidates (issue 7).

`discover_topics` finds candidate topics among AI-security papers no type explains; `actions`
dismisses, merges or promotes them. Heavy libraries (scikit-learn, the encoder) load inside the
functions that need them.
"""

from aisec_radar.topics.actions import dismiss, merge, promote, reopen
from aisec_radar.topics.discover import (
    DiscoveryParams,
    DiscoveryResult,
    discover_topics,
    nightly_step,
    topic_model_key,
    topic_settings,
)

__all__ = ["DiscoveryParams", "DiscoveryResult", "discover_topics", "dismiss", "merge", "nightly_step", "promote",
           "reopen", "topic_model_key", "topic_settings"]
