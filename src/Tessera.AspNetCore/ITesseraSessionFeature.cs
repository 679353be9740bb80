namespace Tessera.AspNetCore;

/// <summary>The request feature through which the middleware hands out the request's session.</summary>
public interface ITesseraSessionFeature
{
    /// <summary>The request's session (not loaded until first used).</summary>
    HttpSession Session { get; }

    /// <summary>
    /// Commits the session now and writes the credential to the response; the middleware calls it before the
    /// response starts. Later calls do nothing.
    /// </summary>
    /// <param name="cancellationToken">Cancels the store write.</param>
    /// <returns>A task that completes when committed.</returns>
    Task CommitAsync(CancellationToken cancellationToken = default);
}
