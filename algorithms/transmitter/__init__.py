"""How model updates travel in the V2 API: over the websocket, or through S3 objects."""

from .transmitters import AbstractTransmitter, S3Transmitter, WSTransmitter

__all__ = ["AbstractTransmitter", "S3Transmitter", "WSTransmitter"]
