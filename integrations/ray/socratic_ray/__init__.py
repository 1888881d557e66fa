"""socratic's work fanned out on Ray.

In: a kind of work (``validate``, ``grade``, ``env-build``, ``score``) and its arguments, the
head's socratic binary and home. Out: the work cut into shards by ``socratic cluster shards``,
each shard run as a Ray task on a node holding the ``socratic_docker`` resource (``socratic
cluster run-shard`` there), the result files collected on the head and imported into its store
with ``socratic tasks import-results`` (idempotent: a shard Ray re-runs after its worker died
counts once).
"""

from .driver import main, run_shard, shard_options

__all__ = ["main", "run_shard", "shard_options"]
