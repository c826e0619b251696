"""The collector: OTLP gRPC and HTTP receivers that decode export requests into rows and store them in ClickHouse."""
