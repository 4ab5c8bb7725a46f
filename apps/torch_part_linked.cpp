// Linked into `crucible-torch` only: the torch part is here, in this process.
#include "apps/torch_part.h"
#include "harness/native_backend.h"

namespace crucible::cli {

const TorchPart* torch_part() {
  static const TorchPart part{&harness::make_native_backend};
  return &part;
}

}  // namespace crucible::cli
