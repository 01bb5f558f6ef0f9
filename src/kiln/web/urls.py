from django.urls import path

from kiln.web import views

urlpatterns = [
    path("", views.home, name="home"),
    path("users/sign_in", views.sign_in, name="sign_in"),
    path("users/sign_out", views.sign_out, name="sign_out"),
]
