using Microsoft.AspNetCore.Builder;

namespace Tessera.AspNetCore;

/// <summary>Endpoint metadata that turns sessions off for an endpoint.</summary>
public interface IDisableTesseraSessionMetadata
{
}

/// <summary>
/// Turns sessions off for a controller, action or endpoint: no cookie is read or written and any attempt to use the
/// session throws <see cref="InvalidOperationException"/>. Static files never touch the session in the first place.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method | AttributeTargets.Delegate, AllowMultiple = false, Inherited = true)]
public sealed class DisableTesseraSessionAttribute : Attribute, IDisableTesseraSessionMetadata
{
}

/// <summary>Endpoint metadata that exempts an endpoint from the request-origin guard.</summary>
public interface IDisableTesseraOriginCheckMetadata
{
}

/// <summary>
/// Exempts a controller, action or endpoint from the request-origin guard (see <see cref="TesseraRequestOriginOptions"/>):
/// a cross-origin POST that carries the session cookie reaches it with its session. For endpoints meant to be called
/// from other origins with the cookie (a partner site's form, say), which must then protect themselves (an antiforgery
/// token, a signature). Takes effect when routing runs before <c>UseTessera()</c>, as for
/// <see cref="DisableTesseraSessionAttribute"/>.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method | AttributeTargets.Delegate, AllowMultiple = false, Inherited = true)]
public sealed class DisableTesseraOriginCheckAttribute : Attribute, IDisableTesseraOriginCheckMetadata
{
}

/// <summary>Endpoint conventions for sessions.</summary>
public static class TesseraEndpointConventionBuilderExtensions
{
    /// <summary>Turns sessions off for the endpoints built by <paramref name="builder"/> (see <see cref="DisableTesseraSessionAttribute"/>).</summary>
    /// <typeparam name="TBuilder">The builder type.</typeparam>
    /// <param name="builder">The endpoint or group builder.</param>
    /// <returns>The builder.</returns>
    public static TBuilder DisableSession<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Add(endpoint => endpoint.Metadata.Add(new DisableTesseraSessionAttribute()));
        return builder;
    }

    /// <summary>
    /// Exempts the endpoints built by <paramref name="builder"/> from the request-origin guard (see
    /// <see cref="DisableTesseraOriginCheckAttribute"/>); their sessions work as usual.
    /// </summary>
    /// <typeparam name="TBuilder">The builder type.</typeparam>
    /// <param name="builder">The endpoint or group builder.</param>
    /// <returns>The builder.</returns>
    public static TBuilder DisableTesseraOriginCheck<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Add(endpoint => endpoint.Metadata.Add(new DisableTesseraOriginCheckAttribute()));
        return builder;
    }
}
