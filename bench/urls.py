"""bench/api.py's URLs: Ombud's own, plus /bench/baseline/, a bare Django view doing one insert.

The baseline is what every figure of bench/api.py is divided by: the same server, middleware,
database and connection handling, and one ORM insert of a small row in its own transaction.
"""

from django.db import models, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt


class BaselineRow(models.Model):
    """One request to the baseline view (bench database only; bench/api.py creates the table)."""

    label = models.CharField(max_length=64)
    value = models.IntegerField()
    at = models.DateTimeField()

    class Meta:
        app_label = "audits"
        managed = False
        db_table = "bench_api_baseline"

    def __str__(self) -> str:
        return f"baseline row {self.pk}"


@csrf_exempt  # a bench client with no session posts here; nothing here is a user's
def baseline(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse("ok")
    with transaction.atomic():
        row = BaselineRow.objects.create(
            label="baseline", value=len(request.body), at=timezone.now()
        )
    return JsonResponse({"id": row.pk}, status=201)


urlpatterns = [
    path("bench/baseline/", baseline),
    path("", include("config.urls")),
]
