using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Tessera.AspNetCore;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Tessera sessions in SignalR hubs.</summary>
public static class TesseraSignalRExtensions
{
    /// <summary>
    /// Gives every hub method the caller's Tessera session (<c>Context.GetTesseraSession()</c>): loaded fresh for each
    /// invocation and committed per key after it, like an HTTP request, extending the idle deadline at most once per
    /// touch interval. Token clients get a short-lived, single-use connection ticket on the negotiate request (the
    /// negotiate response's <c>accessToken</c>), which their WebSocket request may carry in its query string; a real
    /// access token there is refused unless <see cref="TesseraHubOptions.AllowAccessTokenInQueryString"/>. To also close
    /// connections whose session ends, call <see cref="TesseraConnectionLifetime.AddTesseraConnectionLifetime"/> (a
    /// store with server-side sessions is needed for that; not the encrypted cookie store). Call
    /// <c>services.AddTessera()</c> and <c>app.UseTessera()</c> too (after routing, which <c>WebApplication</c> does by
    /// default, so hub paths are known). Safe to call twice. See docs/realtime.md.
    /// </summary>
    /// <param name="builder">The SignalR builder.</param>
    /// <param name="configure">Changes the options (see <see cref="TesseraHubOptions"/> for defaults), or <see langword="null"/>.</param>
    /// <returns>The builder.</returns>
    public static ISignalRServerBuilder AddTesseraSessions(this ISignalRServerBuilder builder, Action<TesseraHubOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddOptions<TesseraHubOptions>().ValidateOnStart();
        if (configure is not null)
        {
            services.Configure(configure);
        }
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TesseraHubOptions>, TesseraHubOptionsValidator>());
        services.TryAddSingleton<HubConnectionTickets>();
        AddHubFilters(services);
        return builder;
    }

    // The one place hub filters are registered: each concern of hubs (the per-invocation session here) is a filter of
    // its own, added once whatever the number of calls.
    private static void AddHubFilters(IServiceCollection services)
    {
        services.TryAddSingleton<TesseraHubSessionFilter>();
        if (!services.Any(d => d.ServiceType == typeof(HubFilterMarker<TesseraHubSessionFilter>)))
        {
            services.AddSingleton<HubFilterMarker<TesseraHubSessionFilter>>();
            services.Configure<HubOptions>(options => options.AddFilter<TesseraHubSessionFilter>());
        }
    }

    private sealed class HubFilterMarker<TFilter>
    {
    }
}
