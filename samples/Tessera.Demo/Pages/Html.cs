using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;

namespace Tessera.Demo.Pages;

/// <summary>
/// The little HTML the pages need, built as strings. Every value that did not come from this file goes through
/// <see cref="Encode"/>: user names, user agents and IP addresses are all attacker-chosen text.
/// </summary>
internal static class Html
{
    public const string ContentType = "text/html; charset=utf-8";

    public static string Encode(string? value) => HtmlEncoder.Default.Encode(value ?? string.Empty);

    /// <summary>A whole page: <c>lang</c>, a skip link, a <c>&lt;main&gt;</c> landmark holding <paramref name="body"/>.</summary>
    public static string Page(string title, string body)
    {
        var html = new StringBuilder();
        html.Append("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
            .Append("<title>").Append(Encode(title)).Append(" · Tessera demo</title>\n")
            .Append("<link rel=\"stylesheet\" href=\"/site.css\">\n</head>\n<body>\n")
            .Append("<a class=\"skip\" href=\"#content\">Skip to content</a>\n")
            .Append("<nav aria-label=\"Site\"><a href=\"/\">Tessera demo</a> <a href=\"/account/sessions\">Your devices</a></nav>\n")
            .Append("<main id=\"content\">\n")
            .Append(body)
            .Append("</main>\n</body>\n</html>\n");
        return html.ToString();
    }

    public static IResult Result(string title, string body, int statusCode = StatusCodes.Status200OK) =>
        Results.Content(Page(title, body), ContentType, Encoding.UTF8, statusCode);

    /// <summary>A one-off message in a live region, or nothing.</summary>
    public static string Notice(string? message) =>
        string.IsNullOrEmpty(message) ? "" : $"<p class=\"notice\" role=\"status\">{Encode(message)}</p>\n";

    /// <summary>The antiforgery token as the hidden field a form posts back.</summary>
    public static string AntiforgeryField(Microsoft.AspNetCore.Antiforgery.AntiforgeryTokenSet tokens) =>
        $"<input type=\"hidden\" name=\"{Encode(tokens.FormFieldName)}\" value=\"{Encode(tokens.RequestToken)}\">";

    /// <summary>"3 minutes ago" in words, with the exact UTC time in a <c>&lt;time&gt;</c> element.</summary>
    public static string Time(DateTimeOffset at, DateTimeOffset now)
    {
        var ago = now - at;
        var words = ago switch
        {
            { TotalMinutes: < 1 } => "just now",
            { TotalMinutes: < 2 } => "1 minute ago",
            { TotalHours: < 1 } => $"{(int)ago.TotalMinutes} minutes ago",
            { TotalHours: < 2 } => "1 hour ago",
            { TotalDays: < 1 } => $"{(int)ago.TotalHours} hours ago",
            { TotalDays: < 2 } => "1 day ago",
            _ => $"{(int)ago.TotalDays} days ago",
        };
        var utc = at.UtcDateTime;
        return $"<time datetime=\"{utc.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)}\">{words}</time> "
            + $"<span class=\"hint\">({utc.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC)</span>";
    }

    /// <summary>A future time, such as an expiry, as the exact UTC time.</summary>
    public static string At(DateTimeOffset at)
    {
        var utc = at.UtcDateTime;
        return $"<time datetime=\"{utc.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)}\">{utc.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC</time>";
    }

    /// <summary>The exact UTC time as plain text, for screen-reader labels.</summary>
    public static string AtText(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) + " UTC";

    /// <summary>A 303 See Other: after a form POST the browser GETs <paramref name="location"/>, so reloading does not post again.</summary>
    public static IResult SeeOther(HttpContext context, string location)
    {
        context.Response.Headers.Location = location;
        return Results.StatusCode(StatusCodes.Status303SeeOther);
    }
}
