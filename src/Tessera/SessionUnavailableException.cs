namespace Tessera;

/// <summary>
/// Thrown when code writes to a session that cannot exist: a bearer request whose access token is missing or was
/// rejected has no session to write to (token sessions are created by <see cref="Tokens.SessionTokenService.CreateAsync"/>,
/// never by a stray write). The ASP.NET Core middleware answers it with a 401 bearer challenge instead of a 500.
/// </summary>
public sealed class SessionUnavailableException : InvalidOperationException
{
    /// <summary>Creates the exception with the default message.</summary>
    public SessionUnavailableException()
        : base("There is no token session to write to: the access token is missing or was rejected. Token sessions are created with SessionManager.Tokens.CreateAsync.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public SessionUnavailableException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public SessionUnavailableException(string message, Exception innerException) : base(message, innerException) { }
}
