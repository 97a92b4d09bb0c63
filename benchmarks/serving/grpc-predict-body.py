"""Writes one gRPC-framed PredictRequest{asset} (the body h2load sends): flag 0, 4-byte big-endian length, then
the protobuf message, field 1 (asset) as a length-delimited string. usage: grpc-predict-body.py ASSET OUT"""
import struct, sys

asset = sys.argv[1].encode()
message = bytes([0x0A, len(asset)]) + asset
open(sys.argv[2], "wb").write(b"\x00" + struct.pack(">I", len(message)) + message)
