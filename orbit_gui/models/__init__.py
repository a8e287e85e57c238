"""Qt item models fed by the engine's streams and events."""
