"""``/hub/…``: the Hub protocol (``hub.views``). Revisions and paths arrive percent-decoded."""

from django.urls import re_path

from hub import views

NS = r"(?P<namespace>[^/]+)"
REPO = r"(?P<name>[^/]+)"

urlpatterns = [
    re_path(r"^api/whoami-v2/?$", views.whoami, name="hub-whoami"),
    re_path(r"^api/models/?$", views.model_list, name="hub-model-list"),
    re_path(rf"^api/models/{NS}/{REPO}/?$", views.repo_info, name="hub-repo-info"),
    re_path(rf"^api/models/{NS}/{REPO}/revision/(?P<revision>.+?)/?$", views.repo_info, name="hub-repo-revision"),
    re_path(rf"^api/models/{NS}/{REPO}/refs/?$", views.refs, name="hub-refs"),
    re_path(rf"^api/models/{NS}/{REPO}/tree/(?P<revision>[^/]+)/?$", views.tree, name="hub-tree"),
    re_path(rf"^api/models/{NS}/{REPO}/tree/(?P<revision>[^/]+)/(?P<path>.+)$", views.tree, name="hub-tree-path"),
    re_path(rf"^{NS}/{REPO}/resolve/(?P<revision>[^/]+)/(?P<path>.+)$", views.resolve_file, name="hub-resolve"),
    re_path(r"^(?P<rest>.*)$", views.elsewhere, name="hub-elsewhere"),
]
