using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tessera.Client;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds Tessera's token handler to an <c>IHttpClientFactory</c> client.</summary>
public static class TesseraTokenClientHttpClientBuilderExtensions
{
    /// <summary>
    /// Adds a <see cref="TesseraTokenHandler"/> to the client named by <paramref name="builder"/>, over one
    /// <see cref="TesseraTokenSession"/> registered as a keyed singleton under the client's name (resolve it with
    /// <c>GetRequiredKeyedService&lt;TesseraTokenSession&gt;("api")</c> to sign in and to subscribe to
    /// <see cref="TesseraTokenSession.SessionEnded"/>). The handler is created per handler pipeline, as
    /// <c>IHttpClientFactory</c> rotates them; the session is not, so rotation never forks the refresh state.
    /// Call it once per client.
    /// </summary>
    /// <remarks>
    /// The session keeps its pair in the <see cref="ITesseraTokenStore"/> registered under the client's name as a keyed
    /// service, else the one registered without a key, else a new <see cref="InMemoryTesseraTokenStore"/>. It takes the
    /// registered <see cref="TimeProvider"/> (default <see cref="TimeProvider.System"/>) and sends refresh calls through the
    /// named client <see cref="TesseraTokenClientDefaults.RefreshClientName"/>, which carries no token handler. The options
    /// are validated at start-up in a host (<c>ValidateOnStart</c>), or when the session is first resolved.
    /// </remarks>
    /// <param name="builder">The client's builder, from <c>services.AddHttpClient("api")</c>.</param>
    /// <param name="configure">Sets the options; <see cref="TesseraTokenClientOptions.RefreshEndpoint"/> is required.</param>
    /// <returns><paramref name="builder"/>, to chain.</returns>
    public static IHttpClientBuilder AddTesseraTokenHandler(this IHttpClientBuilder builder, Action<TesseraTokenClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var name = builder.Name;
        var refreshClientName = TesseraTokenClientDefaults.RefreshClientName(name);
        var services = builder.Services;
        services.AddOptions<TesseraTokenClientOptions>(name).Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TesseraTokenClientOptions>, TesseraTokenClientOptionsValidator>());
        services.AddHttpClient(refreshClientName);
        services.TryAddKeyedSingleton(name, (provider, _) =>
        {
            var factory = provider.GetRequiredService<IHttpClientFactory>();
            return new TesseraTokenSession(
                provider.GetRequiredService<IOptionsMonitor<TesseraTokenClientOptions>>().Get(name),
                // A client per refresh: the factory's handlers rotate under it, as they should for DNS changes.
                () => factory.CreateClient(refreshClientName),
                provider.GetKeyedService<ITesseraTokenStore>(name) ?? provider.GetService<ITesseraTokenStore>(),
                provider.GetService<TimeProvider>(),
                provider.GetService<ILoggerFactory>()?.CreateLogger<TesseraTokenSession>());
        });
        builder.AddHttpMessageHandler(provider => new TesseraTokenHandler(provider.GetRequiredKeyedService<TesseraTokenSession>(name)));
        return builder;
    }
}
