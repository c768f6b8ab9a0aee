"""Server-rendered pages of the workflows app."""
from django.shortcuts import render


def home(request):
    return render(request, "home.html")
