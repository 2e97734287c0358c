"""The marketplace's pages inside a customer's profile (included by customers/urls.py, namespace customers)."""

from django.urls import path

from . import views_buy, views_manage

P = "<uuid:customer_id>/"
urlpatterns = [
    path(P + "products/", views_manage.ManagedProductsView.as_view(), name="managed-products"),
    path(
        P + "products/<uuid:subscription_id>/", views_manage.SubscriptionView.as_view(), name="subscription"
    ),
    path(P + "buy/", views_buy.BuyProductsView.as_view(), name="buy"),
    path(P + "buy/<slug:provider_code>/", views_buy.BuyProviderView.as_view(), name="buy-provider"),
    path(P + "cart/", views_buy.CartView.as_view(), name="cart"),
    path(P + "cart/add/", views_buy.CartAddView.as_view(), name="cart-add"),
    path(P + "cart/lines/<uuid:line_id>/", views_buy.CartLineView.as_view(), name="cart-line"),
    path(P + "cart/checkout/", views_buy.CheckoutView.as_view(), name="checkout"),
    path(P + "purchases/", views_manage.PurchasedProductsView.as_view(), name="purchases"),
    path(P + "purchases/<uuid:order_id>/", views_buy.OrderDetailView.as_view(), name="order"),
]
