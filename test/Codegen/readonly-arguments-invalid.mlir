// RUN: llmc-opt %s -llmc-readonly-arguments -verify-diagnostics

// expected-error @below {{argument 0 of @main is marked writable, but the runtime passes the caller's buffers and the weights in place}}
func.func @main(%x: tensor<4xf32> {bufferization.writable = true}) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
