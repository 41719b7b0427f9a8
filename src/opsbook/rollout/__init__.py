"""Progressive delivery: traffic rollouts in steps with analysis between them (the ``rollout``
step kind) and flag rollouts guarded by an SLO (the ``flag`` step kind). See docs/rollout.md."""
