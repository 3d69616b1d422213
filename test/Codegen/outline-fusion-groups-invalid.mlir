// A group outside any function cannot be outlined.
// RUN: llmc-opt %s -allow-unregistered-dialect -llmc-outline-fusion-groups -verify-diagnostics -o /dev/null
"builtin.module"() ({
  "test.region"() ({
  ^bb0(%x: tensor<2xf32>):
    // expected-error @+1 {{must be inside a function}}
    %0 = graph.fusion_group "loop" (%x) {bytes_read = 8 : i64, bytes_written = 8 : i64} : (tensor<2xf32>) -> tensor<2xf32> {
    ^bb0(%a: tensor<2xf32>):
      %r = graph.relu %a : tensor<2xf32>
      graph.yield %r : tensor<2xf32>
    }
  }) : () -> ()
}) : () -> ()
