from governance.choices import ComplaintStatus
from tests import factories


def test_complaint_walks_to_appeal_decided():
    f = factories.flow_at(ComplaintStatus.APPEAL_DECIDED)
    assert f.complaint.status == ComplaintStatus.APPEAL_DECIDED
