// RUN: llmc-opt %s -llmc-alias-donated-results -split-input-file -verify-diagnostics

// One return is what the runtime's calling convention describes.
// expected-error @+1 {{llmc-alias-donated-results: @main must have one return}}
func.func @main(%cache: memref<8xf32> {llmc.donated}, %c: i1) -> memref<8xf32> {
  cf.cond_br %c, ^a, ^b
^a:
  return %cache : memref<8xf32>
^b:
  %n = memref.alloc() : memref<8xf32>
  return %n : memref<8xf32>
}
