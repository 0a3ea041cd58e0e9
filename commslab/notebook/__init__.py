"""The student-facing notebook UI: the Locks, the public checks and their misconception
catalogue (the science stays in comms_core)."""
