"""Who may answer a gate: an environment's ``approvers:``, SSH-signed answers, distinct people."""
