"""Quote URLs (documents: send, retry, revision PDFs, preview); included by quotes/urls.py (namespace
quotes, under /quotes/)."""

from django.urls import path

from . import views_documents

Q = "<uuid:quote_id>/"
urlpatterns = [
    path(Q + "send/", views_documents.SendPanelView.as_view(), name="send"),
    path(Q + "preview.pdf", views_documents.PreviewPdfView.as_view(), name="preview-pdf"),
    path(Q + "revisions/<int:revision>/pdf/", views_documents.RevisionPdfView.as_view(), name="revision-pdf"),
    path(Q + "revisions/<int:revision>/retry/", views_documents.RetrySendView.as_view(), name="retry-send"),
]
