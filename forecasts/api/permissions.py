from rest_framework.permissions import BasePermission

from ..services import is_organizer


class IsOrganizer(BasePermission):
    message = "only organizers (staff or members of the group `organizers`) may do this"

    def has_permission(self, request, view) -> bool:
        return is_organizer(request.user)
