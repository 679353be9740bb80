namespace Tessera.AspNetCore.CookieStore;

/// <summary>The defaults of <see cref="CookieSessionStoreOptions"/>.</summary>
public static class CookieSessionStoreDefaults
{
    /// <summary>The default of <see cref="CookieSessionStoreOptions.MaxChunks"/>: 4 cookies, about 16 KB of cookie text.</summary>
    public const int MaxChunks = 4;

    /// <summary>
    /// The default of <see cref="CookieSessionStoreOptions.ReplacedCookieGraceWindow"/>: 5 seconds, the same as the
    /// refresh tokens' reuse grace window, and for the same reason: requests already in flight with the replaced value.
    /// </summary>
    public static readonly TimeSpan ReplacedCookieGraceWindow = TimeSpan.FromSeconds(5);
}
