from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    """Cursor pages: constant cost at any depth, and no COUNT(*) over a large table.

    The ordering given with `?ordering=` is honoured (DRF reads it from OrderingFilter).
    """

    ordering = "id"
    page_size_query_param = "page_size"
    max_page_size = 500
