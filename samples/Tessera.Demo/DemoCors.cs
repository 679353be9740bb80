using Microsoft.AspNetCore.Cors.Infrastructure;

namespace Tessera.Demo;

/// <summary>
/// Cross-origin access to the token API (<c>/api/...</c>) for single-page apps served from another origin
/// (<c>Demo:CorsOrigins</c>; none by default, so no other origin can read an answer). Only the token routes take part:
/// the cookie routes and pages stay same-origin, and credentials (cookies) are never allowed cross-origin, so a page
/// of another origin can reach a session only with a token it was given.
/// </summary>
internal static class DemoCors
{
    /// <summary>The policy the token routes require (<c>RequireCors(TokenApi)</c>).</summary>
    public const string TokenApi = "token-api";

    /// <summary>
    /// How long a browser may keep a preflight's answer: 10 minutes, so a page does not send an <c>OPTIONS</c> before
    /// every call (Chromium caps it at 2 hours).
    /// </summary>
    public static readonly TimeSpan PreflightMaxAge = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Registers the <see cref="TokenApi"/> policy: the configured origins, <c>GET</c> and <c>POST</c>, the
    /// <c>Authorization</c> and <c>Content-Type</c> request headers, and <c>WWW-Authenticate</c> readable by the page
    /// (the token client tells an expired or revoked token, <c>error="invalid_token"</c>, from it). With no origins
    /// configured the policy allows none.
    /// </summary>
    public static IServiceCollection AddDemoCors(this IServiceCollection services, DemoSettings settings) => services.AddCors(options =>
        options.AddPolicy(TokenApi, policy => policy
            .WithOrigins([.. settings.CorsOrigins])
            .WithMethods(HttpMethods.Get, HttpMethods.Post)
            .WithHeaders("Authorization", "Content-Type")
            .WithExposedHeaders("WWW-Authenticate")
            .SetPreflightMaxAge(PreflightMaxAge)));

    /// <summary>
    /// Reads one configured origin: an absolute <c>http</c> or <c>https</c> address with nothing after the port (a
    /// trailing <c>/</c> is allowed), as <c>scheme://host[:port]</c>; otherwise a <see cref="DemoConfigurationException"/>
    /// naming it. <c>*</c> is refused: any origin could then read token answers.
    /// </summary>
    public static string ReadOrigin(string value)
    {
        if (Uri.TryCreate(value, UriKind.Absolute, out var uri)
            && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            && uri.AbsolutePath == "/" && uri.Query.Length == 0 && uri.Fragment.Length == 0 && uri.UserInfo.Length == 0)
        {
            return uri.GetLeftPart(UriPartial.Authority);
        }
        throw new DemoConfigurationException(
            $"Demo:CorsOrigins holds '{value}', which is not an origin; list origins such as https://app.example.com or http://127.0.0.1:5173 (scheme, host and port only; no '*').");
    }
}
