//===- GraphBase.td - The graph dialect and its types ------*- tablegen -*-===//

#ifndef LLMC_GRAPH_BASE
#define LLMC_GRAPH_BASE

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def Graph_Dialect : Dialect {
  let name = "graph";
  let cppNamespace = "::mlir::llmc::graph";
  let summary = "Tensor-level operations of imported deep-learning models.";
  let description = [{
    The `graph` dialect holds a model as a dataflow graph of tensor ops on
    ranked tensors with value semantics, one op per operator of the source
    framework (or a composite of them). Shapes are static once the model is
    specialised to its inputs. Unsigned integers keep their `uiN` type here;
    the lowering to linalg makes them signless.
  }];
  let hasConstantMaterializer = 1;
}

// Element types a graph tensor may hold.
def Graph_Element : AnyTypeOf<[F16, BF16, F32, F64, I1, I8, I16, I32, I64,
                               UI8, UI16, UI32, UI64]>;
// The 8-bit floats (ONNX's FLOAT8E4M3FN, FLOAT8E4M3FNUZ, FLOAT8E5M2 and
// FLOAT8E5M2FNUZ) and the 4-bit types (INT4, UINT4, FLOAT4E2M1; one byte
// per element in memory) are storage types: data movement and graph.cast
// take them; arithmetic takes them only through a cast.
def Graph_Tensor : RankedTensorOf<[F16, BF16, F32, F64, I1, I8, I16, I32, I64,
                                   UI8, UI16, UI32, UI64, F8E4M3FN, F8E4M3FNUZ,
                                   F8E5M2, F8E5M2FNUZ, I<4>, UI<4>, F4E2M1FN]>;
def Graph_FloatTensor : RankedTensorOf<[F16, BF16, F32, F64]>;
def Graph_NumericTensor : RankedTensorOf<[F16, BF16, F32, F64, I8, I16, I32,
                                          I64, UI8, UI16, UI32, UI64]>;
def Graph_IntegerTensor : RankedTensorOf<[I8, I16, I32, I64, UI8, UI16, UI32,
                                          UI64]>;
def Graph_LogicTensor : RankedTensorOf<[I1, I8, I16, I32, I64, UI8, UI16,
                                        UI32, UI64]>;
def Graph_BoolTensor : RankedTensorOf<[I1]>;
def Graph_IndexTensor : RankedTensorOf<[I32, I64]>;

#endif // LLMC_GRAPH_BASE
