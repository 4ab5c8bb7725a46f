#include "model/text/jinja/jinja.h"

#include "model/text/jinja/parser.h"
#include "model/text/jinja/render.h"

namespace crucible::text::jinja {

Template Template::parse(const std::string& source, const std::string& where) {
  Template t;
  t.body_ = std::make_shared<const Body>(parse_template(source, where));
  t.where_ = where;
  return t;
}

std::string Template::render(Globals globals) const {
  std::string out;
  Renderer r(where_, out);
  r.frames.push_back(std::move(globals));
  r.frames.emplace_back();  // the template's own top-level scope
  r.render(*body_);
  return out;
}

}  // namespace crucible::text::jinja
