"""commslab: the course tooling (release, grade, solutions, calibrate) around comms_core."""
