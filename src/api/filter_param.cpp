#include "api/filter_param.h"

#include <array>
#include <cmath>
#include <string>

#include "common/time.h"

namespace langfuse::api {
namespace {

using traces::FilterCondition;
using traces::FilterType;

// Langfuse's filterOperators per filter type.
constexpr std::array<std::string_view, 4> kDatetimeOps = {">", "<", ">=", "<="};
constexpr std::array<std::string_view, 5> kStringOps = {"=", "contains", "does not contain", "starts with",
                                                        "ends with"};
constexpr std::array<std::string_view, 2> kOptionsOps = {"any of", "none of"};
constexpr std::array<std::string_view, 3> kArrayOps = {"any of", "none of", "all of"};
constexpr std::array<std::string_view, 5> kNumberOps = {"=", ">", "<", ">=", "<="};
constexpr std::array<std::string_view, 2> kBooleanOps = {"=", "<>"};
constexpr std::array<std::string_view, 2> kNullOps = {"is null", "is not null"};
constexpr std::array<std::string_view, 5> kPositionKeys = {"root", "first", "last", "nthFromEnd",
                                                           "nthFromStart"};

// zod's name of a JSON value's type in "received ..." messages.
std::string_view Received(const Json* value) {
  if (value == nullptr) return "undefined";
  switch (value->type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "boolean";
    case Json::value_t::string:
      return "string";
    case Json::value_t::array:
      return "array";
    case Json::value_t::object:
      return "object";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return "number";
    default:
      return "unknown";
  }
}

// Validates one element against the schema of its type, appending zod's issues.
class ElementParser {
 public:
  ElementParser(const Json& element, size_t index, Json& issues)
      : element_(element), index_(index), issues_(issues), start_(issues.size()) {}

  //! True when the element has no issues; `out` then holds it. `skip` is set for conditions
  //! the query ignores (positionInTrace).
  bool Parse(FilterCondition& out, bool& skip);

 private:
  const Json* Field(std::string_view name) const {
    const auto it = element_.find(std::string(name));
    return it == element_.end() ? nullptr : &*it;
  }
  Json Path(std::string_view field) const {
    return field.empty() ? Json::array({"filter", index_}) : Json::array({"filter", index_, field});
  }
  bool Ok() const { return issues_.size() == start_; }

  void InvalidType(Json path, std::string_view expected, const Json* value) {
    Json issue = Json::object();
    issue["expected"] = expected;
    issue["code"] = "invalid_type";
    if (value != nullptr && value->is_number_float() && !std::isfinite(value->get<double>())) {
      issue["received"] = value->get<double>() > 0 ? "Infinity" : "-Infinity";
    }
    issue["path"] = std::move(path);
    issue["message"] =
        "Invalid input: expected " + std::string(expected) + ", received " + std::string(Received(value));
    issues_.push_back(std::move(issue));
  }
  bool String(std::string_view name, std::string& out) {
    const Json* v = Field(name);
    if (v == nullptr || !v->is_string()) {
      InvalidType(Path(name), "string", v);
      return false;
    }
    out = v->get<std::string>();
    return true;
  }
  template <size_t N>
  bool Enum(std::string_view name, const std::array<std::string_view, N>& allowed, std::string& out) {
    const Json* v = Field(name);
    if (v != nullptr && v->is_string()) {
      for (std::string_view a : allowed) {
        if (a == v->get_ref<const std::string&>()) {
          out = std::string(a);
          return true;
        }
      }
    }
    Json issue = Json::object();
    issue["code"] = "invalid_value";
    issue["values"] = Json::array();
    std::string list;
    for (std::string_view a : allowed) {
      issue["values"].push_back(a);
      list += (list.empty() ? "\"" : "|\"") + std::string(a) + "\"";
    }
    issue["path"] = Path(name);
    issue["message"] = (N == 1 ? "Invalid input: expected " : "Invalid option: expected one of ") + list;
    issues_.push_back(std::move(issue));
    return false;
  }
  bool Number(std::string_view name, double& out) {
    const Json* v = Field(name);
    if (v == nullptr || !v->is_number() || !std::isfinite(v->get<double>())) {
      InvalidType(Path(name), "number", v);
      return false;
    }
    out = v->get<double>();
    return true;
  }
  bool Boolean(std::string_view name, bool& out) {
    const Json* v = Field(name);
    if (v == nullptr || !v->is_boolean()) {
      InvalidType(Path(name), "boolean", v);
      return false;
    }
    out = v->get<bool>();
    return true;
  }
  bool StringArray(std::string_view name, std::vector<std::string>& out) {
    const Json* v = Field(name);
    if (v == nullptr || !v->is_array()) {
      InvalidType(Path(name), "array", v);
      return false;
    }
    bool ok = true;
    for (size_t i = 0; i < v->size(); ++i) {
      const Json& item = (*v)[i];
      if (!item.is_string()) {
        InvalidType(Json::array({"filter", index_, name, i}), "string", &item);
        ok = false;
      } else {
        out.push_back(item.get<std::string>());
      }
    }
    return ok;
  }
  bool Date(std::string_view name, int64_t& out);
  void Custom(Json path, std::string_view message) {
    Json issue = Json::object();
    issue["code"] = "custom";
    issue["path"] = std::move(path);
    issue["message"] = message;
    issues_.push_back(std::move(issue));
  }

  const Json& element_;
  size_t index_;
  Json& issues_;
  size_t start_;
};

// An ISO 8601 date or date-time as JavaScript's Date reads it in a UTC process: with a zone, or
// without one (then UTC), seconds and fractions optional.
std::optional<int64_t> ParseDateText(const std::string& text) {
  if (auto ms = ParseIso8601Ms(text)) return ms;
  if (text.size() == 10) return ParseIso8601Ms(text + "T00:00:00Z");
  if (text.size() == 16) return ParseIso8601Ms(text + ":00Z");
  return ParseIso8601Ms(text + "Z");
}

// z.coerce.date(): `new Date(value)`; null reads as the epoch, booleans as 0/1 ms, numbers as
// milliseconds (truncated); anything unreadable is zod's "Invalid Date" issue.
bool ElementParser::Date(std::string_view name, int64_t& out) {
  const Json* v = Field(name);
  std::optional<int64_t> ms;
  if (v != nullptr) {
    if (v->is_null()) {
      ms = 0;
    } else if (v->is_boolean()) {
      ms = v->get<bool>() ? 1 : 0;
    } else if (v->is_number()) {
      const double d = v->get<double>();
      if (std::isfinite(d) && std::fabs(d) <= 8.64e15) ms = static_cast<int64_t>(std::trunc(d));
    } else if (v->is_string()) {
      ms = ParseDateText(v->get<std::string>());
    }
  }
  if (!ms) {
    Json issue = Json::object();
    issue["expected"] = "date";
    issue["code"] = "invalid_type";
    issue["received"] = "Invalid Date";
    issue["path"] = Path(name);
    issue["message"] = "Invalid input: expected date, received Date";
    issues_.push_back(std::move(issue));
    return false;
  }
  out = *ms;
  return true;
}

bool ElementParser::Parse(FilterCondition& out, bool& skip) {
  skip = false;
  const Json* type = Field("type");
  const std::string type_name = type != nullptr && type->is_string() ? type->get<std::string>() : "";
  // Fields are checked in each schema's declaration order, so issues come in zod's order.
  if (type_name == "datetime") {
    out.type = FilterType::kDatetime;
    String("column", out.column);
    Enum("operator", kDatetimeOps, out.op);
    Date("value", out.time_ms);
  } else if (type_name == "string") {
    out.type = FilterType::kString;
    String("column", out.column);
    Enum("operator", kStringOps, out.op);
    String("value", out.text);
  } else if (type_name == "number") {
    out.type = FilterType::kNumber;
    String("column", out.column);
    Enum("operator", kNumberOps, out.op);
    Number("value", out.number);
  } else if (type_name == "stringOptions") {
    out.type = FilterType::kStringOptions;
    String("column", out.column);
    Enum("operator", kOptionsOps, out.op);
    if (StringArray("value", out.values) && out.values.empty()) Custom(Path("value"), "Invalid input");
  } else if (type_name == "categoryOptions") {
    out.type = FilterType::kCategoryOptions;
    String("column", out.column);
    String("key", out.key);
    Enum("operator", kOptionsOps, out.op);
    StringArray("value", out.values);
  } else if (type_name == "arrayOptions") {
    out.type = FilterType::kArrayOptions;
    String("column", out.column);
    Enum("operator", kArrayOps, out.op);
    StringArray("value", out.values);
    if (Ok() && out.op == "any of" && out.values.empty()) {
      Custom(
          Path(""),
          "Value array must not be empty unless operator is 'all of' or 'none of' (which represent waiting "
          "for selection)");
    }
  } else if (type_name == "stringObject") {
    out.type = FilterType::kStringObject;
    String("column", out.column);
    String("key", out.key);
    Enum("operator", kStringOps, out.op);
    String("value", out.text);
  } else if (type_name == "numberObject") {
    out.type = FilterType::kNumberObject;
    String("column", out.column);
    String("key", out.key);
    Enum("operator", kNumberOps, out.op);
    Number("value", out.number);
  } else if (type_name == "booleanObject") {
    out.type = FilterType::kBooleanObject;
    String("column", out.column);
    String("key", out.key);
    Enum("operator", kBooleanOps, out.op);
    Boolean("value", out.flag);
  } else if (type_name == "boolean") {
    out.type = FilterType::kBoolean;
    String("column", out.column);
    Enum("operator", kBooleanOps, out.op);
    Boolean("value", out.flag);
  } else if (type_name == "null") {
    out.type = FilterType::kNull;
    String("column", out.column);
    Enum("operator", kNullOps, out.op);
    const Json* value = Field("value");
    if (value == nullptr || !value->is_string() || !value->get_ref<const std::string&>().empty()) {
      Json issue = Json::object();
      issue["code"] = "invalid_value";
      issue["values"] = Json::array({""});
      issue["path"] = Path("value");
      issue["message"] = "Invalid input: expected \"\"";
      issues_.push_back(std::move(issue));
    }
  } else if (type_name == "positionInTrace") {
    skip = true;
    String("column", out.column);
    Enum("operator", std::array<std::string_view, 1>{"="}, out.op);
    std::string key;
    Enum("key", kPositionKeys, key);
    const Json* value = Field("value");
    double position = 0;
    if (value != nullptr && !Number("value", position)) return false;
    if (Ok() && (key == "nthFromEnd" || key == "nthFromStart") && (value == nullptr || position < 1)) {
      Json issue = Json::object();
      issue["code"] = "custom";
      issue["message"] = "Position must be >= 1 for nth selection";
      issue["path"] = Path("value");
      issues_.push_back(std::move(issue));
    }
  } else {
    Json issue = Json::object();
    issue["code"] = "invalid_union";
    issue["errors"] = Json::array();
    issue["note"] = "No matching discriminator";
    issue["discriminator"] = "type";
    issue["path"] = Path("type");
    issue["message"] = "Invalid input";
    issues_.push_back(std::move(issue));
  }
  return Ok();
}

}  // namespace

StatusOr<std::vector<traces::FilterCondition>> ParseFilterParam(std::string_view text, Json& issues) {
  std::vector<FilterCondition> conditions;
  if (text.empty()) return conditions;
  const Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return Status::InvalidArgument("Invalid JSON in filter parameter");
  if (!parsed.is_array()) {
    Json issue = Json::object();
    issue["expected"] = "array";
    issue["code"] = "invalid_type";
    issue["path"] = Json::array({"filter"});
    issue["message"] = "Invalid input: expected array, received " + std::string(Received(&parsed));
    issues.push_back(std::move(issue));
    return conditions;
  }
  for (size_t i = 0; i < parsed.size(); ++i) {
    const Json& element = parsed[i];
    if (!element.is_object()) {
      Json issue = Json::object();
      issue["code"] = "invalid_type";
      issue["expected"] = "object";
      issue["path"] = Json::array({"filter", i});
      issue["message"] = "Invalid input: expected object, received " + std::string(Received(&element));
      issues.push_back(std::move(issue));
      continue;
    }
    FilterCondition condition;
    bool skip = false;
    if (ElementParser(element, i, issues).Parse(condition, skip) && !skip) {
      conditions.push_back(std::move(condition));
    }
  }
  return conditions;
}

}  // namespace langfuse::api
