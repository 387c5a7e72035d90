"""Pure protocol logic: request messages, the result model, summaries. No grpc, rich or click."""
