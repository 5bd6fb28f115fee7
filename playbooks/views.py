"""The room's checklist forms (without script, or with a file) and evidence downloads.

With script, the room moves steps over its socket; these views are the same moves for a
plain form post, and the only way to attach a file.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from incidents.errors import NotFound, ServiceError
from incidents.views_incidents import room_refused
from incidents.web import page_actor
from playbooks import selectors, services
from playbooks.forms import ChecklistAddForm, StepMoveForm
from playbooks.models import STATE_LABELS, ChecklistStep
from playbooks.policy import visible_checklists
from playbooks.services.attachments import content_type


@login_required
@require_POST
def step_move(request: HttpRequest, incident_id: int, step_id: int) -> HttpResponse:
    actor = page_actor(request)
    form = StepMoveForm(request.POST, request.FILES)
    if not form.is_valid():
        return room_refused(request, actor, incident_id, form=form, status=400)
    try:
        step = services.step_move(
            actor=actor, step_id=step_id, move=form.move(), incident_id=incident_id
        )
    except NotFound:
        raise Http404(_("No such step.")) from None
    except ServiceError as exc:
        form.add_error(None, exc.detail)
        return room_refused(request, actor, incident_id, form=form, status=exc.status)
    messages.success(
        request,
        _("%(step)s: %(state)s.")
        % {
            "step": step.title_zh,
            "state": step.state_label,
        },
    )
    return redirect(f"/incidents/{incident_id}/#step-{step.pk}")


@login_required
@require_GET
def period_checklists(request: HttpRequest) -> HttpResponse:
    """The checklists of sensitive periods (the holiday co-location duty check)."""
    actor = page_actor(request)
    return render(
        request,
        "playbooks/period_checklists.html",
        {
            "checklists": selectors.period_checklists(actor, now=timezone.now()),
            "step_role": selectors.step_role(actor),
            "step_states": [(s.value, label) for s, label in STATE_LABELS.items()],
        },
    )


@login_required
@require_POST
def period_step_move(request: HttpRequest, step_id: int) -> HttpResponse:
    actor = page_actor(request)
    form = StepMoveForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            step = services.step_move(actor=actor, step_id=step_id, move=form.move())
        except NotFound:
            raise Http404(_("No such step.")) from None
        except ServiceError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(
                request,
                _("%(step)s: %(state)s.") % {"step": step.title_zh, "state": step.state_label},
            )
    else:
        messages.error(
            request, "; ".join(str(e) for errors in form.errors.values() for e in errors)
        )
    return redirect(f"/playbooks/#step-{step_id}")


@login_required
@require_POST
def checklist_add(request: HttpRequest, incident_id: int) -> HttpResponse:
    actor = page_actor(request)
    form = ChecklistAddForm(request.POST)
    if not form.is_valid():
        return room_refused(request, actor, incident_id, form=form, status=400)
    try:
        checklist = services.checklist_add(
            actor=actor, incident_id=incident_id, template_key=form.cleaned_data["template"]
        )
    except NotFound:
        raise Http404(_("No such incident.")) from None
    except ServiceError as exc:
        form.add_error(None, exc.detail)
        return room_refused(request, actor, incident_id, form=form, status=exc.status)
    messages.success(request, _("Playbook started: %(name)s.") % {"name": checklist.name})
    return redirect(f"/incidents/{incident_id}/#checklist-{checklist.pk}")


@login_required
@require_GET
def step_attachment(request: HttpRequest, incident_id: int, step_id: int) -> FileResponse:
    """A step's evidence file, to whoever may see the incident's checklist."""
    actor = page_actor(request)
    step = (
        ChecklistStep.objects.filter(
            # 0 stands for no incident: the checklist of a sensitive period.
            Q(checklist__incident_id=incident_id)
            if incident_id
            else Q(checklist__incident__isnull=True),
            pk=step_id,
            checklist__in=visible_checklists(actor).values("pk"),
        )
        .exclude(attachment="")
        .first()
    )
    if step is None:
        raise Http404(_("No such attachment."))
    name = step.attachment_name or "attachment"
    response = FileResponse(
        step.attachment.open("rb"),
        as_attachment=True,
        filename=name,
        content_type=content_type(name),
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
