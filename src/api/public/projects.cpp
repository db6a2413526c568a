// GET /api/public/projects: the key's own project (the SDKs' auth check reads it).
#include "api/json_views.h"
#include "api/public/handlers.h"
#include "api/request_auth.h"

namespace langfuse::api {

void RegisterProjectRoutes(http::Router& router, ApiContext& context) {
  router.Add("GET", "/api/public/projects", [&context](http::Request& request) {
    http::Response error;
    auto auth = AuthenticateRequest(context, request, KeyAccess::kProject, error);
    if (!auth) return error;
    auto project = context.meta.GetProject(auth->project_id);
    if (!project.ok()) return ErrorResponse(project.status());
    Json data = Json::array();
    if (project->has_value()) {
      const meta::Project& p = **project;
      Json organization = {{"id", p.org_id}, {"name", nullptr}};
      if (auto org = context.meta.GetOrganization(p.org_id); org.ok() && org->has_value()) {
        organization["name"] = (*org)->name;
      }
      data.push_back(Json{{"id", p.id}, {"name", p.name}, {"organization", organization}, {"metadata", Json::object()}});
    }
    return http::Response::Json(200, Json{{"data", data}}.dump());
  });
}

}  // namespace langfuse::api
