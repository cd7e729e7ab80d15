"""The Evaluate step: one signal batch through a pipeline of named stages, from Health intake
and judging to the notifications committed in the outbox (``pipeline``)."""
